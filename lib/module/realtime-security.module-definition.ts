import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { RealtimeSecurityOptions } from '../interfaces/realtime-security-options.interface.js';

export const {
  ConfigurableModuleClass: RealtimeSecurityConfigurableModule,
  MODULE_OPTIONS_TOKEN: REALTIME_SECURITY_OPTIONS,
  OPTIONS_TYPE: REALTIME_SECURITY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REALTIME_SECURITY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RealtimeSecurityOptions>({ moduleName: 'RealtimeSecurity' })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
