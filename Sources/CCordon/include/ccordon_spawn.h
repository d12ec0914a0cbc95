#ifndef CCORDON_SPAWN_H
#define CCORDON_SPAWN_H
#include <stdint.h>
#endif
