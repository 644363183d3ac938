// The `fleet` CLI compiled to JavaScript, for tests that run commands as processes and check what they print and
// how they exit. bin/fleet.js registers tsx, whose loader hooks resolve and load each of our modules through a
// hooks thread at every start: that is most of what a short command costs, and the suite starts dozens. The
// compiled copy is the same sources through the same compiler with tsx's transform settings (esbuild, ES modules,
// names kept), laid out as the sources are, so a command behaves as it does from bin/fleet.js; the test of the
// shipped binary and the worker-process tests start bin/fleet.js itself.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync, version as esbuildVersion } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The folders `fleet` runs from: everything but test/. */
const SOURCE_FOLDERS = ['cli', 'contract', 'router', 'producer', 'batching', 'workers', 'scripts'];
/** What sits beside the sources and is read through `import.meta.url`. */
const ASSET_FOLDERS = ['router/policies'];
/** Where the builds are kept, one folder per state of the sources. */
export const COMPILED_FLEET_CACHE = join(ROOT, 'node_modules', '.cache', 'image-fleet-compiled');

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const folder of SOURCE_FOLDERS) if (existsSync(join(ROOT, folder))) walk(join(ROOT, folder));
  return files.sort();
}

/** Names the state of the sources: every file's path, size and modification time, and the compiler. */
function sourceStateKey(files: readonly string[]): string {
  const hash = createHash('sha256').update(`esbuild ${esbuildVersion} node ${process.versions.node}\n`);
  for (const file of [...files, ...ASSET_FOLDERS.flatMap((folder) => readdirSync(join(ROOT, folder)).map((name) => join(ROOT, folder, name)))]) {
    const stat = statSync(file);
    hash.update(`${relative(ROOT, file)} ${stat.size} ${stat.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

let built: string | undefined;

/**
 * The compiled `bin/fleet.js` for the sources as they are now: built on first use (about a second), then reused
 * by every test process until a source changes. scripts/test-setup.ts builds it before the suite starts.
 */
export function compiledFleetBin(): string {
  if (built !== undefined) return built;
  const files = sourceFiles();
  const outDir = join(COMPILED_FLEET_CACHE, sourceStateKey(files));
  const bin = join(outDir, 'bin', 'fleet.js');
  if (!existsSync(bin)) {
    // Built aside and renamed into place, so a test process never runs a half-written tree; two processes that
    // build at once write the same files, and the second rename finds the folder there.
    const partial = `${outDir}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    buildSync({
      entryPoints: files,
      outdir: partial,
      outbase: ROOT,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node}`,
      keepNames: true,
      tsconfig: join(ROOT, 'tsconfig.json'),
      logLevel: 'warning',
    });
    for (const folder of ASSET_FOLDERS) cpSync(join(ROOT, folder), join(partial, folder), { recursive: true });
    // Under node_modules no package.json of ours applies: without this one Node would have to detect each
    // file's module format by parsing it.
    writeFileSync(join(partial, 'package.json'), '{ "type": "module" }\n');
    // bin/fleet.js without tsx: the CLI's entry is JavaScript beside it.
    mkdirSync(join(partial, 'bin'), { recursive: true });
    writeFileSync(join(partial, 'bin', 'fleet.js'), "await import('../cli/main.js');\n");
    try {
      renameSync(partial, outDir);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(bin)) throw error;
    }
  }
  built = bin;
  return bin;
}

/** Removes the builds of earlier source states (scripts/test-setup.ts, before the suite). */
export function removeStaleCompiledFleets(): void {
  const current = relative(COMPILED_FLEET_CACHE, join(compiledFleetBin(), '..', '..'));
  if (!existsSync(COMPILED_FLEET_CACHE)) return;
  for (const name of readdirSync(COMPILED_FLEET_CACHE)) {
    if (name !== current) rmSync(join(COMPILED_FLEET_CACHE, name), { recursive: true, force: true });
  }
}
