#include <criterion/criterion.h>
Test(cluster, placeholder) {}
