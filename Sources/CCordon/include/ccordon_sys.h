#ifndef CCORDON_SYS_H
#define CCORDON_SYS_H
#include <stdint.h>
#endif
