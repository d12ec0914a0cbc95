// The declaration is in include/CFuzzDriver.h; libFuzzer defines it.
