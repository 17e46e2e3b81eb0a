declare module 'tree-sitter-python' {
  const language: unknown;
  export default language;
}
