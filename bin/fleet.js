#!/usr/bin/env node
// The `fleet` binary runs the TypeScript sources through tsx, so `npm install` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main');
