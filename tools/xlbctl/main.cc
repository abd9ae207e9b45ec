// xlbctl: the operator CLI of the xlb load balancer. See docs/xlbctl.md.
#include <iostream>

#include "tools/xlbctl/app.h"

int main(int argc, char** argv) {
  return xlb::xlbctl::Main(argc, argv, std::cout, std::cerr);
}
