/* placeholder: being written */
typedef int store_activity_placeholder;
