// The bytes (and UTF-16 code units) that JSON's structure is made of, for the scans that read
// JSON text without parsing it: the decoder's nesting check (src/admission/review.ts) and the
// informer's list splitter (src/cluster/list-body.ts). All are ASCII, so a byte and a code
// unit agree, and no UTF-8 continuation byte can be mistaken for one.
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const COLON = 0x3a;
export const COMMA = 0x2c;
