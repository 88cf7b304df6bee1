export * from './image-type';
export * from './image-store';
export * from './local-disk-image-store';
export * from './url-signer';
export * from './storage.module';
