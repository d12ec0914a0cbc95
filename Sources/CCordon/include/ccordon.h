#ifndef CCORDON_H
#define CCORDON_H
// The single C shim: syscalls and kernel structures that Swift's Glibc does not expose.
// Each header covers one subject; this umbrella includes them all.
#include "ccordon_spawn.h"
#include "ccordon_sys.h"
#include "ccordon_fs.h"
#include "ccordon_net.h"
#include "ccordon_relay.h"
#endif
