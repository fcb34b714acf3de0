// jest runs the TypeScript sources through ts-jest as ESM. Type checking is
// done once by `tsc` in `make test`, so ts-jest only transpiles (faster).
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/shared', '<rootDir>/controller', '<rootDir>/predictor', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testTimeout: 60000,
};
