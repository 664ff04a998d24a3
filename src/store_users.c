/* placeholder: being written */
typedef int store_users_placeholder;
