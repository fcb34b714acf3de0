// ESLint: typescript-eslint's recommended rules, Prettier for layout, and the
// layer rules that keep imports one way:
//   shared/                        imports nothing of weir's
//   predictor/                     never the controller
//   controller/                    never the predictor (they meet in shared/)
//   controller/src/{api,stats,analysis,engine}: the pure core imports only
//                                  itself and shared/ (no providers, no I/O)
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const restrict = (...rules) => ['error', { patterns: rules.map(([group, message]) => ({ group, message })) }];
const NOT_CONTROLLER = [
  ['**/controller/**'],
  'the predictor never reaches into the controller; code both use lives in shared/',
];
const NOT_PREDICTOR = [
  ['**/predictor/**'],
  'the controller never reaches into the predictor; code both use lives in shared/',
];
const PURE = [
  [
    '**/providers/**',
    '**/controller/*.js',
    '**/local/**',
    '**/cli/**',
    '**/report/**',
    '**/observability/**',
    '**/sim/**',
  ],
  'the pure core (api, stats, analysis, engine) imports only itself and shared/',
];
const NO_IO = [
  ['node:fs', 'node:fs/*', 'node:http', 'node:https', 'node:net', 'node:child_process', 'axios', '@kubernetes/*'],
  'the pure core does no I/O',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Tests read untyped JSON answers; the sources do not.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([
        ['**/controller/**', '**/predictor/**'],
        'shared/ is the bottom layer: it imports neither the controller nor the predictor',
      ]),
    },
  },
  {
    // The dashboard's page runs in a browser, as a classic script.
    files: ['controller/src/dashboard/ui/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'URLSearchParams',
          'EventSource',
          'setInterval',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  { files: ['predictor/**/*.ts'], rules: { 'no-restricted-imports': restrict(NOT_CONTROLLER) } },
  { files: ['controller/**/*.ts'], rules: { 'no-restricted-imports': restrict(NOT_PREDICTOR) } },
  {
    files: ['controller/src/{api,stats,analysis,engine}/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': restrict(NOT_PREDICTOR, PURE, NO_IO) },
  },
);
