import type Sharp from 'sharp';

let loading: Promise<typeof Sharp> | undefined;

/**
 * sharp, loaded at the first image it handles instead of with the module graph: libvips is a large native
 * library, and most processes that import workers/ never decode an image (the CLI's commands, the ingress).
 */
export function loadSharp(): Promise<typeof Sharp> {
  loading ??= import('sharp').then((module) => module.default);
  return loading;
}
