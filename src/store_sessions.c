/* placeholder: being written */
typedef int store_sessions_placeholder;
