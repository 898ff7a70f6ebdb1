export { createPublisher } from './publisher.ts'
export type { Publisher, PublisherOptions, PublishTo } from './publisher.ts'
export { PublisherError } from './errors.ts'
export type { PublisherErrorCode } from './errors.ts'
