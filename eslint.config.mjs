// One toolchain for lint and format: typescript-eslint for correctness, @stylistic for layout,
// @nx/enforce-module-boundaries for the dependency direction between projects (tags in each package.json).
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/build/**', '.nx/**', '**/*.d.ts.map'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  stylistic.configs.customize({ semi: true, quotes: 'single', indent: 2, braceStyle: '1tbs', arrowParens: true }),
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly',
        clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly',
        URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly',
        TextDecoder: 'readonly', fetch: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly',
      },
    },
    plugins: { '@nx': nx },
    rules: {
      '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      '@stylistic/operator-linebreak': 'off',
      '@stylistic/multiline-ternary': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      // Apps are leaves: nothing imports them (they export no entry, so Nx's rule cannot see such imports).
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: '^@berth/(cli|engine|runtimed|shim|runc)(/|$)',
          message: 'Apps never import apps and libs never import apps; move shared code into a lib.',
        }],
      }],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', {
        allow: [],
        depConstraints: [
          { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:runtime'] },
          { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:runtime'] },
          { sourceTag: 'type:runtime', onlyDependOnLibsWithTags: ['type:lib', 'type:native'] },
          { sourceTag: 'scope:oci', onlyDependOnLibsWithTags: ['scope:none'] },
          { sourceTag: 'type:native', onlyDependOnLibsWithTags: ['scope:none'] },
          { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:runtime'] },
        ],
      }],
    },
  },
  {
    // Command-line entry points, tools, tests and benchmarks print to the terminal by design.
    files: ['apps/cli/**', 'apps/runc/**', 'tools/**', '**/*.spec.ts'],
    rules: { 'no-console': 'off' },
  },
);
