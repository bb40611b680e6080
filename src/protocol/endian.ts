// Concord reads float32 and uint32 payloads (frames, SecAgg+ masks) through typed-array views
// of wire bytes, which are little-endian: that is only right on a little-endian host, which
// every platform Node and the browsers run on is. Refuse anything else loudly at start-up.

export function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('Concord needs a little-endian host');
}
