// Text helpers shared by the layers that compare quoted evidence with its source.

/** Whitespace runs as one space, trimmed: how a quote is compared with the lines it came from. */
export const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
