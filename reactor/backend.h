/* reactor/backend.h - internal: which reactor backend this build uses,
 * chosen by the target system at compile time. Each backend file compiles
 * to nothing unless its macro is set, so the build compiles every
 * backend file and the target's preprocessor picks one.
 *   AX__REACTOR_EPOLL   Linux (epoll.c)
 *   AX__REACTOR_KQUEUE  macOS, FreeBSD, DragonFly (kqueue.c; EVFILT_USER
 *                       is needed for wake-ups)
 */
#ifndef AX_REACTOR_BACKEND_H
#define AX_REACTOR_BACKEND_H

#if defined(__linux__)
#define AX__REACTOR_EPOLL 1
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__DragonFly__)
#define AX__REACTOR_KQUEUE 1
#endif

#endif
