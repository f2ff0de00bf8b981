// Lint: typescript-eslint's recommended rules plus the layering of docs/architecture.md, kept
// honest two ways: no import cycles (file by file), and no folder of src/ importing a folder that is
// not below it (LAYERS).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

// The folders of src/, lowest first. A folder may import only the folders of the groups below its
// own; the folders of one group are peers and import each other not at all. test/, bench/ and
// scripts/ may import anything.
const LAYERS = [
  ['common'],
  ['crypto', 'storage', 'net'],
  ['codec'],
  ['consensus', 'ledger'],
  ['execution'],
  ['setup', 'rpc'],
  ['replica', 'client', 'verifier'],
  ['node'],
  ['cli'],
];

// Every file of src/ is in a folder, and every folder has its place.
const placed = LAYERS.flat();
const unplaced = readdirSync(join(import.meta.dirname, 'src'), { withFileTypes: true })
  .filter((e) => !e.name.startsWith('.') && !(e.isDirectory() && placed.includes(e.name)))
  .map((e) => `src/${e.name}`);
if (unplaced.length > 0) throw new Error(`eslint.config.js: ${unplaced.join(', ')} has no place in LAYERS`);

const layerZones = LAYERS.flatMap((group, i) => {
  const below = LAYERS.slice(0, i).flat();
  return group.map((folder) => ({
    target: `./src/${folder}`,
    from: placed.filter((f) => f !== folder && !below.includes(f)).map((f) => `./src/${f}`),
    message:
      below.length === 0
        ? `src/${folder}/ imports nothing else in src/ (LAYERS in eslint.config.js).`
        : `src/${folder}/ may import only ${below.map((f) => `${f}/`).join(', ')} in src/ (LAYERS in eslint.config.js).`,
  }));
}).filter((zone) => zone.from.length > 0);

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', '.bulwark/**', 'tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { import: importPlugin },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
      // The plugin parses imported files itself, and needs to be told they are TypeScript.
      'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import/extensions': ['.ts', '.js'],
    },
    rules: {
      'import/no-cycle': ['error', { ignoreExternal: true }],
      'import/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // The explorer's browser modules (explorer/, served as they are by the client node).
    files: ['explorer/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'fetch', 'WebSocket', 'crypto', 'sessionStorage', 'localStorage', 'TextEncoder', 'Node', 'setTimeout', 'alert'].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    // CommonJS, as Hardhat projects are written (test/fixtures/hardhat-project).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', setTimeout: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
