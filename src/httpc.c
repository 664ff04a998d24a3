/* placeholder: being written */
typedef int httpc_placeholder;
