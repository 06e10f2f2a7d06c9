/*
 * bcryptprimitives.dll with the one export Go (1.24 and later) needs at
 * start-up on Windows: ProcessPrng. Wine 8 does not have it; this DLL
 * implements it on top of bcrypt.dll's BCryptGenRandom with the system's
 * preferred generator. It is used only to run the test binaries under Wine
 * (scripts/wine.sh) and is never shipped.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *        processprng.c processprng.def -lbcrypt
 */
#include <windows.h>
#include <bcrypt.h>

#ifndef BCRYPT_USE_SYSTEM_PREFERRED_RNG
#define BCRYPT_USE_SYSTEM_PREFERRED_RNG 0x00000002
#endif

/*
 * ProcessPrng fills data with size random bytes and returns TRUE, as the
 * real one does (it is documented never to fail). BCryptGenRandom takes a
 * ULONG length, so larger requests go in pieces.
 */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
	while (size > 0) {
		ULONG n = size > 0x40000000 ? 0x40000000 : (ULONG)size;
		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n,
				BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return FALSE;
		data += n;
		size -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
	(void)instance;
	(void)reason;
	(void)reserved;
	return TRUE;
}
