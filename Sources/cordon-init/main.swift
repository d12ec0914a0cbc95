// cordon-init: the single-threaded process that builds the sandbox from inside.
print("cordon-init")
