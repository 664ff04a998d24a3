/* placeholder: being written */
typedef int store_flags_placeholder;
