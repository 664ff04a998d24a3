/* placeholder: being written */
typedef int crypto_placeholder;
