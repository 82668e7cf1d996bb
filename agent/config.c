/* placeholder */ typedef int fy_placeholder_t;
