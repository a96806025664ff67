#ifndef LLMDB_CLMDB_SHIM_H
#define LLMDB_CLMDB_SHIM_H
#include <lmdb.h>
#endif
