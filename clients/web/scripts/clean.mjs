// Remove dist/ before a build, so that no file of a deleted source survives.
import { rm } from 'node:fs/promises';
await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
