/* placeholder: being written */
typedef int store_tokens_placeholder;
