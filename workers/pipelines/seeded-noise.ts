/**
 * Deterministic noise: mulberry32 for uniform numbers, Box-Muller for normals. The same seed gives the same
 * sequence on every platform (integer arithmetic plus IEEE doubles), which is what makes a render reproducible.
 */
export class SeededNoise {
  private state: number;
  private spare: number | undefined;

  /** @param seed any integer; it is reduced to 32 bits and scrambled, so nearby seeds give unrelated streams. */
  constructor(seed: number) {
    // murmur3's fmix32: mulberry32 seeded s and s + k·0x6d2b79f5 would otherwise yield shifted copies.
    let h = (seed ^ 0x9e3779b9) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    this.state = (h ^ (h >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    this.spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `target` with standard normals times `scale` and returns it. */
  fillNormal(target: Float32Array, scale = 1): Float32Array {
    for (let i = 0; i < target.length; i++) target[i] = this.normal() * scale;
    return target;
  }
}
