// ESLint for the browser scripts in web/static (run by `make lint` from the repository root).
// Plain scripts, no bundler: each file is a classic <script> that wraps itself in a function.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: ["web/static/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser },
    },
    rules: {
      ...js.configs.recommended.rules,
      "no-unused-vars": ["error", { caughtErrors: "none" }],
      eqeqeq: "error",
      "no-var": "error",
      "prefer-const": "error",
    },
  },
];
