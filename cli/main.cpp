// qtune command line entry (placeholder until the CLI lands).
#include <cstdio>
int main() { std::puts("qtune"); return 0; }
