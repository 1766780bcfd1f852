// Typings for the libmime functions we use: RFC 2047 encoded words, header values with parameters
// (RFC 2231 included), and its charset decoder (iconv-lite, encoding-japanese for ISO-2022-JP).
declare module 'libmime' {
  export interface HeaderValue {
    value: string;
    params: Record<string, unknown>;
  }
  export function decodeWords(value: string): string;
  export function parseHeaderValue(value: string): HeaderValue;
  const libmime: { decodeWords(value: string): string; parseHeaderValue(value: string): HeaderValue };
  export default libmime;
}

declare module 'libmime/lib/charset.js' {
  const charset: { decode(bytes: Buffer, charset: string): string };
  export default charset;
}
