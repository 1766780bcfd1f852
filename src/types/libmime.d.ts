// Typings for the one libmime function we use (RFC 2047 encoded-word decoding of header values).
declare module 'libmime' {
  export function decodeWords(value: string): string;
  const libmime: { decodeWords(value: string): string };
  export default libmime;
}
