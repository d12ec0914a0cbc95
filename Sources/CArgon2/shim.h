// The reference Argon2 library (Debian's libargon2): the keystore's passphrase KDF, Argon2id.
#include <argon2.h>
