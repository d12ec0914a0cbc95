#include "ccordon.h"
