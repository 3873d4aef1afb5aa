// Lint runs in `npm test`. Besides the recommended sets it keeps DESIGN.md's one-way road:
// a stage imports from the stages before it (and store, config, clock), never from a later one.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// signals is the shared record shape every source builds, so it sits first.
const road = ['signals', 'sources', 'incidents', 'requests', 'escalation', 'notify', 'reports', 'http', 'console', 'cli'];
const later = (stage) => road.slice(road.indexOf(stage) + 1);
const zone = (stage) => ({
  files: [`src/${stage}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: later(stage).map((s) => ({
        group: [`**/${s}/*`, `**/${s}`],
        message: `src/${stage} must not import from src/${s}: the road runs sources -> signals -> incidents -> escalation -> notify, and no stage imports a later one (signals, the shared record shape, comes first).`,
      })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'data'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'use a string-literal union' }],
    },
  },
  ...['signals', 'sources', 'incidents', 'requests', 'escalation', 'notify', 'console'].map(zone),
  {
    files: ['src/**/*.ts'],
    ignores: ['src/clock.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'use the injected Clock' }],
    },
  },
);
