# Cross-compiles for 64-bit Windows with Debian's MinGW-w64 (gcc-mingw-w64-x86-64):
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#   cmake --build build-win
# builds ruphin.dll (with libruphin.dll.a), libruphin.a, ruphin.exe and the C
# tests; tests/windows runs them under Wine (docs/PLATFORMS.md).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(RUPHIN_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${RUPHIN_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${RUPHIN_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${RUPHIN_MINGW_PREFIX}-windres)

# Libraries and headers come from the MinGW sysroot only; programs (the
# build's own tools) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${RUPHIN_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The programs run without MinGW's runtime DLLs beside them (libgcc,
# libwinpthread): a ruphin.exe copied alone to a Windows machine starts.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc -static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static")
