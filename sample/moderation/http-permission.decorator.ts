import { SetMetadata } from '@nestjs/common';

/** Metadata key read by `BearerPermissionGuard`. */
export const HTTP_PERMISSION = 'sample:http-permission';

/** The permission an HTTP route needs (same grammar as `@WsAuthorize`); method beats class. */
export const HttpPermission = (permission: string) => SetMetadata(HTTP_PERMISSION, permission);
