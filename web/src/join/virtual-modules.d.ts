// The join page's demo shard, made at build time by web/vite.config.ts (mnistShard).
declare module 'virtual:mnist-shard' {
  const shard: { url: string; count: number };
  export default shard;
}
