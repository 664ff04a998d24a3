/* placeholder: being written */
typedef int flags_placeholder;
