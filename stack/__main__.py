if __name__ == "__main__":
    from stack.cli import main

    main()
