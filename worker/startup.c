/* placeholder: being written */
typedef int startup_placeholder;
