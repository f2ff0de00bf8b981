#!/usr/bin/env node
// The installed `bulwark` command: loads tsx so the TypeScript sources run as they are (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
