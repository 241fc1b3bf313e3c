// How every AWS client of djmigrate retries (the stores' S3 clients, the remote CLI's Step Functions and S3 clients).
// No SDK import here: the remote CLI loads the SDK only when a command needs it.

/**
 * Up to 8 attempts, spaced by the SDK's adaptive retry, which also slows the client's own sending while AWS throttles
 * (S3's 503 SlowDown: a store's objects share a prefix, and S3 answers it past ~5,500 GETs a second on one prefix until
 * it has split it, a rate 40 Distributed Map children reading small objects can reach; the default 3 attempts then
 * fail whole batches).
 */
export const AWS_RETRIES = { retryMode: 'adaptive', maxAttempts: 8 } as const;
