import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/common';
import { PrismaService } from '@app/database';
import { IMAGE_STORE, type ImageStore } from './image-store';
import { LocalDiskImageStore } from './local-disk-image-store';
import { UrlSigner } from './url-signer';

/** the `deployment_settings` key of the generated image-link secret */
export const IMAGE_URL_SECRET_SETTING = 'image_url_secret';

/** where generated images are kept: `<DATA_DIR>/images`, or a private temporary folder for `memory://` */
export function imageStoreRoot(config: AppConfig): { root: string; temporary: boolean } {
  if (config.DATA_DIR === 'memory://') return { root: mkdtempSync(join(tmpdir(), 'switchyard-images-')), temporary: true };
  return { root: join(config.DATA_DIR, 'images'), temporary: false };
}

/**
 * The secret image links are signed with. A configured IMAGE_URL_SECRET wins; otherwise the first replica to
 * boot stores a random one and every replica (and every restart) reads that same row, so a link signed by
 * one replica is accepted by all of them.
 */
export async function loadImageUrlSecret(config: AppConfig, prisma: PrismaService): Promise<string> {
  if (config.IMAGE_URL_SECRET) return config.IMAGE_URL_SECRET;
  const candidate = randomBytes(32).toString('hex');
  await prisma.$executeRaw`
    INSERT INTO deployment_settings (key, value) VALUES (${IMAGE_URL_SECRET_SETTING}, ${candidate}) ON CONFLICT (key) DO NOTHING`;
  const rows = await prisma.$queryRaw<{ value: string }[]>`SELECT value FROM deployment_settings WHERE key = ${IMAGE_URL_SECRET_SETTING}`;
  const secret = rows[0]?.value;
  if (!secret) throw new Error('the image URL secret could not be stored');
  return secret;
}

const STORE_ROOT = Symbol('IMAGE_STORE_ROOT');

@Injectable()
class TemporaryStoreCleanup implements OnApplicationShutdown {
  constructor(@Inject(STORE_ROOT) private readonly location: { root: string; temporary: boolean }) {}
  onApplicationShutdown(): void {
    // memory:// promises nothing survives the process; leave no images behind either.
    if (this.location.temporary) rmSync(this.location.root, { recursive: true, force: true });
  }
}

/**
 * Image storage for the gateway and the worker: the `ImageStore` (`IMAGE_STORE`) generated images are written
 * to, and the `UrlSigner` of the links that serve them. Needs the global AppConfig and PrismaService.
 */
@Global()
@Module({
  providers: [
    {
      provide: STORE_ROOT,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const location = imageStoreRoot(config);
        new Logger('ImageStore').log(`images stored under ${location.temporary ? 'a temporary folder (DATA_DIR=memory://)' : location.root}`);
        return location;
      },
    },
    { provide: IMAGE_STORE, inject: [STORE_ROOT], useFactory: (l: { root: string }): ImageStore => new LocalDiskImageStore(l.root) },
    {
      provide: UrlSigner,
      inject: [AppConfig, PrismaService],
      useFactory: async (config: AppConfig, prisma: PrismaService) => new UrlSigner(await loadImageUrlSecret(config, prisma)),
    },
    TemporaryStoreCleanup,
  ],
  exports: [IMAGE_STORE, UrlSigner],
})
export class StorageModule {}
