// PCRE2's 8-bit (UTF-8) API: functions are imported with their `_8` names.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
