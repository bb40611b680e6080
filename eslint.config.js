// Lint rules, including the layering of STYLE.md: protocol/ and core/ import nothing of
// ours; strategies/ import only protocol/ and core/; nothing below the processes imports them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message: why }] }],
  },
});

const upper = ['**/coordinator/**', '**/node/**', '**/cli/**', '**/demo/**', '**/storage/**'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'test-results/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  layer(['src/protocol/**'], ['../*', '!../protocol'], 'protocol/ is the bottom layer: it imports nothing of ours'),
  layer(['src/core/**'], ['../*', '!../protocol', '!../core'], 'core/ is pure math: it imports only protocol/'),
  layer(['src/strategies/**', 'src/data/**', 'src/model/**', 'src/analytics/**'], upper, 'libraries must not import the processes that use them'),
  { files: ['bin/**', '**/*.mjs', 'eslint.config.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
