declare module 'minhash' {
  const lib: unknown;
  export default lib;
}
declare module 'tree-sitter-python' {
  const language: unknown;
  export default language;
}
