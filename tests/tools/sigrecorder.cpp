// Placeholder; the compat suite's helper writes the real recorder.
int main() { return 0; }
